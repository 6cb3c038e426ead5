// The sandbox index's "Clear" buttons: DELETE /control/faults/{operation}
// from this page (same origin, so the control API's cross-origin refusal
// lets it through), then reload to show the state. Without JavaScript the
// curl command beside each button does the same.
(function () {
  'use strict';
  var status = document.getElementById('fault-status');
  document.querySelectorAll('button.clear-fault').forEach(function (b) {
    b.addEventListener('click', function () {
      var op = b.dataset.operation;
      fetch('/control/faults/' + encodeURIComponent(op), { method: 'DELETE' }).then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        location.reload();
      }).catch(function (e) {
        status.textContent = 'Could not clear the faults of ' + op + ': ' + e.message;
      });
    });
  });
})();
