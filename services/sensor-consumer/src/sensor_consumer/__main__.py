from sensor_consumer.main import main

main()
