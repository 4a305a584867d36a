use gcd::gcd;

#[test]
fn equal_numbers() {
    assert_eq!(gcd(6, 6), 6);
}

#[test]
#[ignore]
fn common_factor() {
    assert_eq!(gcd(12, 8), 4);
}

#[test]
#[ignore]
fn coprime_numbers() {
    assert_eq!(gcd(7, 13), 1);
}

#[test]
#[ignore]
fn zero_and_a_number() {
    assert_eq!(gcd(0, 5), 5);
    assert_eq!(gcd(5, 0), 5);
}

#[test]
#[ignore]
fn both_zero() {
    assert_eq!(gcd(0, 0), 0);
}
