// Winback UI: ask before irreversible actions (forms marked .confirm). No other script, no CDN.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.classList && form.classList.contains("confirm") && form.dataset.confirm) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  }
});
