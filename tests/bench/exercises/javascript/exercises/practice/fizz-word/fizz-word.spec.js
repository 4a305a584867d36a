import { fizzWord } from './fizz-word';

describe('fizzWord', () => {
  test('an ordinary number is written in digits', () => {
    expect(fizzWord(1)).toEqual('1');
  });

  xtest('a multiple of three', () => {
    expect(fizzWord(9)).toEqual('Fizz');
  });

  xtest('a multiple of five', () => {
    expect(fizzWord(10)).toEqual('Buzz');
  });

  xtest('a multiple of fifteen', () => {
    expect(fizzWord(45)).toEqual('FizzBuzz');
  });
});
