import org.json.JSONObject;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

public class ShoppingListTest {

    @Test
    public void emptyListHasNoItems() {
        assertThat(ShoppingList.total("{}")).isEqualTo(0);
    }

    @Disabled("Remove to run test")
    @Test
    public void quantitiesAreSummed() {
        assertThat(ShoppingList.total("{\"apples\": 3, \"bread\": 1}")).isEqualTo(4);
    }

    @Disabled("Remove to run test")
    @Test
    public void addingToAnItemOnTheList() {
        JSONObject list = new JSONObject(ShoppingList.add("{\"apples\": 3}", "apples", 2));
        assertThat(list.getInt("apples")).isEqualTo(5);
    }
}
