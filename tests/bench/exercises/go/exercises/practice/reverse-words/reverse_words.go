package reversewords

func ReverseWords(sentence string) string {
	panic("ReverseWords is not implemented yet")
}
