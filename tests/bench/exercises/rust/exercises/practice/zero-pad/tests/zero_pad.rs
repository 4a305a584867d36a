use zero_pad::pad;

#[test]
fn already_wide_enough() {
    assert_eq!(pad(12345, 2), "12345");
}

#[test]
#[ignore]
fn zeros_in_front() {
    assert_eq!(pad(42, 5), "00042");
}

#[test]
#[ignore]
fn zero_itself() {
    assert_eq!(pad(0, 3), "000");
}

#[test]
#[ignore]
fn exact_width() {
    assert_eq!(pad(7, 1), "7");
}

#[test]
#[ignore]
fn largest_number() {
    assert_eq!(pad(u64::MAX, 21), "018446744073709551615");
}
