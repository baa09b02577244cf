// Behaviour that used to sit in inline handlers (onchange=, onclick=, javascript:), which the
// Content-Security-Policy forbids. Elements opt in with data attributes.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.submit();
});
document.addEventListener("click", function (event) {
  var el = event.target.closest && event.target.closest("[data-back], [data-keep-query]");
  if (!el) return;
  if (el.hasAttribute("data-back")) {
    event.preventDefault();
    history.back();
  } else {
    // export links follow the filters currently in the address bar (htmx pushes them)
    el.search = window.location.search;
  }
});
