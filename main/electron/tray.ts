/**
 * The tray icon: its image says at a glance whether the editor is connected (one icon per
 * `AppState.level`), its tooltip and first menu line say why, and its menu offers the three
 * things a user does from there: configure Cursor, open the window, quit.
 *
 * Generic over Electron's `Menu` and image types so tests pass stand-ins; the real `Tray`,
 * `Menu.buildFromTemplate` and `nativeImage` satisfy the interfaces.
 */
import type { MenuItemConstructorOptions } from 'electron';
import type { AppState } from '../../preload/contract.js';

export type TrayLevel = AppState['level'];

export const trayLevels: readonly TrayLevel[] = ['connected', 'attention', 'error', 'signed-out'];

export interface TrayActions {
  configureCursor(): void;
  openWindow(): void;
  quit(): void;
}

/** The part of Electron's `Tray` used here. */
export interface TrayLike<Menu, Image> {
  setImage(image: Image): void;
  setToolTip(toolTip: string): void;
  setContextMenu(menu: Menu | null): void;
  on(event: 'click', listener: () => void): unknown;
  destroy(): void;
}

export interface TrayDeps<Menu, Image> {
  /** `new Tray(image)`. */
  createTray(image: Image): TrayLike<Menu, Image>;
  /** `Menu.buildFromTemplate`. */
  buildMenu(template: MenuItemConstructorOptions[]): Menu;
  /** The icon for a level (`nativeImage.createFromPath(...)`). */
  iconFor(level: TrayLevel): Image;
}

export const trayMenuIds = {
  status: 'status',
  configureCursor: 'configure-cursor',
  open: 'open',
  quit: 'quit',
} as const;

/** The menu for a state: status line (not clickable), Configure Cursor, Open, Quit. */
export function trayMenuTemplate(
  state: AppState | null,
  actions: TrayActions,
): MenuItemConstructorOptions[] {
  const signedIn = state?.user != null;
  return [
    { id: trayMenuIds.status, label: state?.summary ?? 'Starting…', enabled: false },
    { type: 'separator' },
    {
      id: trayMenuIds.configureCursor,
      label: 'Configure Cursor',
      enabled: signedIn,
      click: () => actions.configureCursor(),
    },
    { id: trayMenuIds.open, label: 'Open PM MCP', click: () => actions.openWindow() },
    { type: 'separator' },
    { id: trayMenuIds.quit, label: 'Quit PM MCP', click: () => actions.quit() },
  ];
}

export interface AppTray {
  /** Shows a new state: icon, tooltip and menu. */
  update(state: AppState): void;
  destroy(): void;
}

export function createAppTray<Menu, Image>(
  deps: TrayDeps<Menu, Image>,
  actions: TrayActions,
): AppTray {
  const tray = deps.createTray(deps.iconFor('signed-out'));
  tray.setToolTip('PM MCP');
  tray.setContextMenu(deps.buildMenu(trayMenuTemplate(null, actions)));
  // Windows and macOS: a click on the icon opens the window (Linux shows the menu instead).
  tray.on('click', () => actions.openWindow());
  let lastLevel: TrayLevel | undefined;

  return {
    update(state) {
      if (state.level !== lastLevel) {
        tray.setImage(deps.iconFor(state.level));
        lastLevel = state.level;
      }
      tray.setToolTip(`PM MCP: ${state.summary}`);
      tray.setContextMenu(deps.buildMenu(trayMenuTemplate(state, actions)));
    },
    destroy() {
      tray.destroy();
    },
  };
}
