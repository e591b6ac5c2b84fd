from hiergym.cli import main

main()
