class TitleCase {

    static String apply(String text) {
        return text;
    }
}
