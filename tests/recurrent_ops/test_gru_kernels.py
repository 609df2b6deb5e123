"""GRU paths the shared op tests leave out: the compiled kernels' general (non tanh/sigmoid) branches with and
without reset_after, and mixed activations (one inline derivative, one general)."""
import pytest
from helpers.gradcheck import check_gradients
from recurrent_op_cases import arrays_and_names, make_case, padded_and_gapped_mask, run

RESET = [True, False]
RESET_IDS = ["after", "before"]
ACTIVATIONS = [("sigmoid", "hard_sigmoid"), ("relu", "sigmoid"), ("tanh", "hard_sigmoid"), ("linear", "linear")]
ACTIVATION_IDS = ["sigmoid-hard_sigmoid", "relu-sigmoid", "tanh-hard_sigmoid", "linear-linear"]


@pytest.mark.parametrize("reset_after", RESET, ids=RESET_IDS)
@pytest.mark.parametrize("activation, recurrent_activation", ACTIVATIONS, ids=ACTIVATION_IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_gradients_with_other_activations(reset_after, activation, recurrent_activation, masked):
    case = make_case("gru", B=4, T=4, seed=70, reset_after=reset_after)
    arrays, names = arrays_and_names(case)
    mask = padded_and_gapped_mask(4, 4) if masked else None
    options = dict(reset_after=reset_after, activation=activation, recurrent_activation=recurrent_activation)
    check_gradients(lambda *a: run("gru", names, a, mask=mask, **options), arrays)
