export const fizzWord = (n) => {
  throw new Error('fizzWord is not implemented yet');
};
