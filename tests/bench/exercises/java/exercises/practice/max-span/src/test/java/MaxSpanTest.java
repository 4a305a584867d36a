import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class MaxSpanTest {

    @Test
    public void singleValue() {
        assertThat(MaxSpan.of(new int[]{5})).isEqualTo(0);
    }

    @Disabled("Remove to run test")
    @Test
    public void unorderedValues() {
        assertThat(MaxSpan.of(new int[]{1, 9, 3})).isEqualTo(8);
    }

    @Disabled("Remove to run test")
    @Test
    public void negativeValues() {
        assertThat(MaxSpan.of(new int[]{-4, -10, 2})).isEqualTo(12);
    }

    @Disabled("Remove to run test")
    @Test
    public void emptyArrayIsRefused() {
        assertThatThrownBy(() -> MaxSpan.of(new int[]{}))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessage("no values");
    }
}
