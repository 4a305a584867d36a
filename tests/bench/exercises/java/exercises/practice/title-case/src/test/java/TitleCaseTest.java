import org.junit.Ignore;
import org.junit.Test;

import static org.junit.Assert.assertEquals;

public class TitleCaseTest {

    @Test
    public void wordAlreadyInTitleCase() {
        assertEquals("Hello", TitleCase.apply("Hello"));
    }

    @Ignore("Remove to run test")
    @Test
    public void lowerCaseWords() {
        assertEquals("Hello World", TitleCase.apply("hello world"));
    }

    @Ignore("Remove to run test")
    @Test
    public void mixedCaseAndDoubleSpaces() {
        assertEquals("Hello  World", TitleCase.apply("hello  wORLD"));
    }

    @Ignore("Remove to run test")
    @Test
    public void emptyText() {
        assertEquals("", TitleCase.apply(""));
    }
}
