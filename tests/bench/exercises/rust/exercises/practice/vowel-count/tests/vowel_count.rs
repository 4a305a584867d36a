use vowel_count::count_vowels;

#[test]
fn lower_case_word() {
    assert_eq!(count_vowels("hello"), 2);
}

#[test]
#[ignore]
fn empty_text() {
    assert_eq!(count_vowels(""), 0);
}

#[test]
#[ignore]
fn upper_case_vowels_count_too() {
    assert_eq!(count_vowels("AEIOU"), 5);
}

#[test]
#[ignore]
fn y_is_not_a_vowel() {
    assert_eq!(count_vowels("rhythm"), 0);
}
