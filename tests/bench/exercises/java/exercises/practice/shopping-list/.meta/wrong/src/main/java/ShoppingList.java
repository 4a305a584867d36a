import org.json.JSONObject;

class ShoppingList {

    static int total(String json) {
        return new JSONObject(json).length();
    }

    static String add(String json, String item, int quantity) {
        JSONObject list = new JSONObject(json);
        list.put(item, quantity);
        return list.toString();
    }
}
