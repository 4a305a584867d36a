pub fn gcd(a: u64, b: u64) -> u64 {
    todo!("the greatest common divisor of {a} and {b}")
}
