class ShoppingList {

    static int total(String json) {
        throw new UnsupportedOperationException("ShoppingList.total is not implemented yet");
    }

    static String add(String json, String item, int quantity) {
        throw new UnsupportedOperationException("ShoppingList.add is not implemented yet");
    }
}
