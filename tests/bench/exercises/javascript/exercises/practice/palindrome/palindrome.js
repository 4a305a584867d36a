function isPalindrome(text) {
  throw new Error('isPalindrome is not implemented yet');
}

module.exports = { isPalindrome };
