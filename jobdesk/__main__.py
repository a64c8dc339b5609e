from jobdesk.app import main

main()
