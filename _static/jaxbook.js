// Learn JAX by Running It: small fixes of the theme's markup (checked
// by tests/test_browser.py). jupyter-book loads every .js in _static/.
document.addEventListener("DOMContentLoaded", () => {
  // The primary sidebar (logo, search button, table of contents) is a plain
  // <div>: its logo and search button sat outside every landmark (axe rule
  // "region"), so screen-reader users navigating by landmark skipped them.
  const sidebar = document.getElementById("pst-primary-sidebar");
  if (sidebar && !sidebar.hasAttribute("role")) {
    sidebar.setAttribute("role", "navigation");
    sidebar.setAttribute("aria-label", "Book");
  }
});
