import java.util.Arrays;

class MaxSpan {

    static int of(int[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no values");
        }
        return Arrays.stream(values).max().getAsInt() - Arrays.stream(values).min().getAsInt();
    }
}
