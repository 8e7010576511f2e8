module github.com/acme/polyglot/sdk/go

go 1.22
