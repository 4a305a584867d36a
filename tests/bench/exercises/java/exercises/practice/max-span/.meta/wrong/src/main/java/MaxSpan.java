class MaxSpan {

    static int of(int[] values) {
        return values[values.length - 1] - values[0];
    }
}
