from producer.main import main

main()
