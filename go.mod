module kvskit

go 1.26.8
