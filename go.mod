module github.com/crmsync/crmsync

go 1.26.0
