from embedder.main import main

main()
