module storesync.example/go

go 1.19
