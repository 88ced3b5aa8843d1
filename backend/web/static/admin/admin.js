// Light enhancement of the analytics page: filters apply as they change, and the quick range
// buttons fill in the dates. Without JavaScript the form's Apply button does the same.
const form = document.getElementById("filters");

if (form) {
  for (const select of form.querySelectorAll("select")) {
    select.addEventListener("change", () => form.requestSubmit());
  }
  for (const button of form.querySelectorAll(".quick [data-from]")) {
    button.addEventListener("click", () => {
      form.elements.from.value = button.dataset.from;
      form.elements.to.value = button.dataset.to;
      form.requestSubmit();
    });
  }
  form.addEventListener("submit", () => {
    // Empty selects would put "surface=&team=" in the address; leave them out.
    for (const field of form.querySelectorAll("select")) field.disabled = !field.value;
    document.body.setAttribute("aria-busy", "true");
  });
}
