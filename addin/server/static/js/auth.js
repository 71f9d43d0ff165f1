// Overrides xlwings Server's auth.js: sends the access token the user saved in the task
// pane (main.js) to the "custom" auth provider (auth/custom.py).
globalThis.THIDUA_TOKEN_KEY = "thidua.addinToken";

globalThis.getAuth = async function () {
  const providers = globalThis.config ? globalThis.config.authProviders || [] : [];
  if (providers.includes("entraid")) {
    return { token: await xlwings.getAccessToken(), provider: "entraid" };
  }
  if (providers.includes("custom")) {
    return {
      token: localStorage.getItem(globalThis.THIDUA_TOKEN_KEY) || "",
      provider: "custom",
    };
  }
  return { token: "", provider: "" };
};
