from lake_writer.main import main

main()
