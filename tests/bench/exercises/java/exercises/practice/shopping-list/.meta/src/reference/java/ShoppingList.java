import org.json.JSONObject;

class ShoppingList {

    static int total(String json) {
        JSONObject list = new JSONObject(json);
        int sum = 0;
        for (String item : list.keySet()) {
            sum += list.getInt(item);
        }
        return sum;
    }

    static String add(String json, String item, int quantity) {
        JSONObject list = new JSONObject(json);
        list.put(item, list.optInt(item, 0) + quantity);
        return list.toString();
    }
}
