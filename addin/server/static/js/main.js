// Task pane: save the add-in access token (sent by auth.js with every call).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("thidua-token-form");
  if (!form) return;
  const key = globalThis.THIDUA_TOKEN_KEY || "thidua.addinToken";
  const input = document.getElementById("thidua-token");
  const status = document.getElementById("thidua-token-status");
  status.textContent = localStorage.getItem(key)
    ? "Đã lưu mã truy cập."
    : "Chưa có mã truy cập: nhập mã do quản trị viên cấp.";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    localStorage.setItem(key, token);
    input.value = "";
    status.textContent = "Đã lưu mã truy cập.";
  });
});
