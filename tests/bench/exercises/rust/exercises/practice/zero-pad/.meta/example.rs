pub fn pad(n: u64, width: usize) -> String {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    let mut padded = "0".repeat(width.saturating_sub(digits.len()));
    padded.push_str(digits);
    padded
}
