from event_consumer.main import main

main()
