from aggregator.main import main

main()
