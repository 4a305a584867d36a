pub fn gcd(a: u64, b: u64) -> u64 {
    a.min(b)
}
