module github.com/meshlb/meshlb

go 1.26.0
