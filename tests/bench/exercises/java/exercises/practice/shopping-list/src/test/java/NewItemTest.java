import org.json.JSONObject;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

// Not named in .meta/config.json: runs all the same, as under `gradle test`.
public class NewItemTest {

    @Test
    public void anItemNotOnTheListIsAdded() {
        JSONObject list = new JSONObject(ShoppingList.add("{\"bread\": 1}", "milk", 2));
        assertThat(list.getInt("milk")).isEqualTo(2);
        assertThat(list.getInt("bread")).isEqualTo(1);
    }
}
