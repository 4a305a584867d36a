export const fizzWord = (n) => String(n);
