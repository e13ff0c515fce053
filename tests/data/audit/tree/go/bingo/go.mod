module _ // Fake go.mod auto-created by bingo

go 1.14
