from recsys_api.main import main

main()
