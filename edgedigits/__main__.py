from edgedigits.cli import main

main()
