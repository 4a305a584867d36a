pub fn pad(n: u64, _width: usize) -> String {
    n.to_string()
}
