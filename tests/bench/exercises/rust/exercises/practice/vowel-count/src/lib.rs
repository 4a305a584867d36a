pub fn count_vowels(text: &str) -> usize {
    todo!("count the vowels in {text:?}")
}
