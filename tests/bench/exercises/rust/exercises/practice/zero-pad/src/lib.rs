pub fn pad(n: u64, width: usize) -> String {
    todo!("{n} with zeros in front, at least {width} characters")
}
