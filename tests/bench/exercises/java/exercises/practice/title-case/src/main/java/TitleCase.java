class TitleCase {

    static String apply(String text) {
        throw new UnsupportedOperationException("TitleCase.apply is not implemented yet");
    }
}
