// A page that plays the part of a VS Code notebook for tests/test_vscode.py.
//
// VS Code renders ipywidgets with its own widget manager, published on npm as
// @vscode/jupyter-ipywidgets8: a ready-built bundle whose activate() makes
// window.vscIPyWidgets.WidgetManager, a widget manager that takes a kernel
// connection and an element, and finds the core widget modules through
// requirejs. The Jupyter extension's webview builds that manager on a kernel
// connection from @jupyterlab/services and, for each widget output of a cell,
// waits for the model, creates its view and displays it. This page does the
// same with the same bundle, over a websocket to a Jupyter server instead of
// VS Code's message relay. Nothing of JupyterLab's front end is on the page.
import { KernelMessage, ServerConnection, SessionManager, KernelManager } from "@jupyterlab/services";

const WIDGET_VIEW = "application/vnd.jupyter.widget-view+json";

let kernel = null;
let manager = null;

/** Connect to the server, start a kernel for `path` and build VS Code's widget manager. */
export async function start({ baseUrl, token, path, rendererUrl }) {
  const serverSettings = ServerConnection.makeSettings({ baseUrl, token, appendToken: true });
  const kernelManager = new KernelManager({ serverSettings });
  const sessions = new SessionManager({ serverSettings, kernelManager });
  const session = await sessions.startNew({ path, name: path, type: "notebook", kernel: { name: "python3" } });
  kernel = session.kernel;
  await within(kernel.info, 60000, "the kernel's connection");

  const renderer = await import(rendererUrl);
  renderer.activate();
  window.vscIPyWidgets8.load();
  const scriptLoader = {
    widgetsRegisteredInRequireJs: new Set(),
    loadWidgetScript: async (moduleName) => {
      throw new Error(`no script for widget module ${moduleName}: only the core widgets are available`);
    },
    successHandler: () => {},
    errorHandler: (className, moduleName, moduleVersion, error) => {
      report(`could not load ${moduleName}@${moduleVersion} ${className}: ${error}`);
    },
  };
  manager = new window.vscIPyWidgets.WidgetManager(kernel, document.getElementById("outputs"), scriptLoader, () => {});
  return { kernel: kernel.name, widgetManager: manager.constructor.name };
}

/** Run one cell's code; show its outputs (widgets through the manager); its errors, if any. */
export async function execute(code, timeoutMs) {
  const cell = document.createElement("div");
  cell.className = "cell";
  const source = document.createElement("pre");
  source.className = "source";
  source.textContent = code;
  cell.appendChild(source);
  document.getElementById("outputs").appendChild(cell);

  const errors = [];
  const rendering = [];
  const future = kernel.requestExecute({ code, store_history: true, stop_on_error: true });
  future.onIOPub = (message) => {
    if (KernelMessage.isErrorMsg(message)) {
      errors.push(`${message.content.ename}: ${message.content.evalue}`);
      show(cell, "error", message.content.traceback.join("\n").replace(/\x1b\[[0-9;]*m/g, ""));
    } else if (KernelMessage.isStreamMsg(message)) {
      show(cell, message.content.name, message.content.text);
    } else if (KernelMessage.isDisplayDataMsg(message) || KernelMessage.isExecuteResultMsg(message)) {
      const data = message.content.data;
      if (data[WIDGET_VIEW]) {
        rendering.push(renderWidget(data[WIDGET_VIEW], cell).catch((error) => errors.push(`widget: ${error}`)));
      } else if (data["text/plain"]) {
        show(cell, "result", data["text/plain"]);
      }
    }
  };
  const reply = await within(future.done, timeoutMs, "the cell");
  await Promise.all(rendering);
  if (reply.content.status !== "ok" && errors.length === 0) {
    errors.push(`the cell ended with status ${reply.content.status}`);
  }
  return errors;
}

/** What VS Code's webview does with a widget output: model, then view, then display. */
async function renderWidget(data, cell) {
  const node = document.createElement("div");
  node.className = "widget-output";
  cell.appendChild(node);
  const model = await manager.get_model(data.model_id);
  const view = await manager.create_view(model, { el: node });
  await manager.display_view(data, view, { node });
}

/** `promise`, or an error saying `what` did not finish within `ms` (a test fails rather than hangs). */
function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function show(cell, kind, text) {
  const output = document.createElement("pre");
  output.className = `output ${kind}`;
  output.textContent = text;
  cell.appendChild(output);
}

function report(text) {
  show(document.getElementById("outputs"), "error", text);
}
