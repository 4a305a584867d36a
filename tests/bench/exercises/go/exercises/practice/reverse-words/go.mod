module reversewords

go 1.18
