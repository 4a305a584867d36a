function isPalindrome(text) {
  return text === [...text].reverse().join('');
}

module.exports = { isPalindrome };
