from shop_api.main import main

main()
